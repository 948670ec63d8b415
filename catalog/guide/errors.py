"""Guide errors: each has a stable code."""

from infra.errors import Conflict, InvalidInput, NotFound


class EpgSourceNotFound(NotFound):
    code = "EPG_SOURCE_NOT_FOUND"


class EpgSourceExists(Conflict):
    code = "EPG_SOURCE_EXISTS"


class EpgImportNotFound(NotFound):
    code = "EPG_IMPORT_NOT_FOUND"


class InvalidEpgSource(InvalidInput):
    code = "INVALID_EPG_SOURCE"


class GuideTooLarge(InvalidInput):
    code = "GUIDE_TOO_LARGE"
    status = 413


class ProgrammeNotFound(NotFound):
    code = "PROGRAMME_NOT_FOUND"


class InvalidGuideQuery(InvalidInput):
    code = "INVALID_GUIDE_QUERY"
