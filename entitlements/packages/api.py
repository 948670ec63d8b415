"""Package HTTP API for staff: packages and the channels they grant, channel rights, the address-range table."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from catalog.channels import service as catalog_service
from catalog.channels.deps import ChannelIdPath
from entitlements.accounts.deps import (
    PackageCodePath,
)
from entitlements.packages import service as packages_service
from entitlements.packages.schemas import (
    ChannelRightsBody,
    ChannelRightsRead,
    GeoRangesBody,
    PackageChannels,
    PackageCreate,
    PackageRead,
    PackageUpdate,
)
from infra.deps import SessionDep, require_staff

router = APIRouter()
viewer = [Depends(require_staff("viewer"))]
operator = [Depends(require_staff("operator"))]
admin = [Depends(require_staff("admin"))]


# -- packages (staff) ----------------------------------------------------------------------------
@router.get("/v1/admin/packages", response_model=list[PackageRead], dependencies=viewer, tags=["packages"])
def list_packages(db_session: SessionDep) -> list[PackageRead]:
    """List the package catalogue."""
    return [packages_service.to_package_read(db_session=db_session, package=p)
            for p in packages_service.list_packages(db_session=db_session)]


@router.post("/v1/admin/packages", response_model=PackageRead, status_code=201, dependencies=admin,
             tags=["packages"])
def create_package(body: PackageCreate, db_session: SessionDep) -> PackageRead:
    """Create a package with its limits and channels."""
    package = packages_service.create_package(db_session=db_session, package_in=body)
    return packages_service.to_package_read(db_session=db_session, package=package)


@router.get("/v1/admin/packages/{code}", response_model=PackageRead, dependencies=viewer, tags=["packages"])
def get_package(code: PackageCodePath, db_session: SessionDep) -> PackageRead:
    """Show a package."""
    return packages_service.to_package_read(db_session=db_session, package=packages_service.get_package(db_session=db_session,
                                                                                     code=code))


@router.patch("/v1/admin/packages/{code}", response_model=PackageRead, dependencies=admin, tags=["packages"])
def update_package(code: PackageCodePath, body: PackageUpdate, db_session: SessionDep) -> PackageRead:
    """Change a package's name, kind or limits."""
    package = packages_service.update_package(db_session=db_session, code=code, package_in=body)
    return packages_service.to_package_read(db_session=db_session, package=package)


@router.put("/v1/admin/packages/{code}/channels", response_model=PackageRead, dependencies=admin,
            tags=["packages"])
def set_package_channels(code: PackageCodePath, body: PackageChannels, db_session: SessionDep) -> PackageRead:
    """Replace the channels a package grants."""
    package = packages_service.get_package(db_session=db_session, code=code)
    packages_service.set_package_channels(db_session=db_session, package=package, channels=body.channels)
    return packages_service.to_package_read(db_session=db_session, package=package)


@router.delete("/v1/admin/packages/{code}", status_code=204, dependencies=admin, tags=["packages"])
def delete_package(code: PackageCodePath, db_session: SessionDep) -> Response:
    """Delete a package that no subscriber holds."""
    packages_service.delete_package(db_session=db_session, code=code)
    return Response(status_code=204)


# -- staff: rights, places, decisions --------------------------------------------------------------
@router.get("/v1/admin/channels/{channel_id}/rights", response_model=ChannelRightsRead, dependencies=viewer,
            tags=["rights"])
def get_channel_rights(channel_id: ChannelIdPath, db_session: SessionDep) -> ChannelRightsRead:
    """Show a channel's rights."""
    catalog_service.get(db_session=db_session, channel_id=channel_id)
    return packages_service.to_rights_read(channel_id, packages_service.channel_rights(db_session=db_session, channel_id=channel_id))


@router.put("/v1/admin/channels/{channel_id}/rights", response_model=ChannelRightsRead, dependencies=operator,
            tags=["rights"])
def put_channel_rights(channel_id: ChannelIdPath, body: ChannelRightsBody, db_session: SessionDep) -> ChannelRightsRead:
    """Set a channel's rights: modes, catch-up days, devices, countries, age rating."""
    return packages_service.to_rights_read(channel_id, packages_service.set_channel_rights(db_session=db_session,
                                                                       channel_id=channel_id, body=body))


@router.put("/v1/admin/geo", dependencies=admin, tags=["rights"])
def put_geo(body: GeoRangesBody, db_session: SessionDep) -> dict:
    """Replace the address-range table ("CIDR,COUNTRY" lines) that GEO_BLOCKED is judged by."""
    return {"ranges": packages_service.set_geo_table(db_session=db_session, csv=body.csv)}


@router.get("/v1/admin/geo", dependencies=viewer, tags=["rights"])
def get_geo(db_session: SessionDep) -> dict:
    """Show the address-range table."""
    return {"csv": "\n".join(f"{net},{cc}" for net, cc in packages_service.geo_rows(db_session=db_session))}
