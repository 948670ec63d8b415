"""Origin errors: what a player asked for that is not there or not allowed in this form."""

from infra.errors import InvalidInput, NotFound


class SegmentNotFound(NotFound):
    code = "SEGMENT_NOT_FOUND"


class InvalidDeliveryDirective(InvalidInput):
    code = "INVALID_DELIVERY_DIRECTIVE"
    status = 400


class KeyNotFound(NotFound):
    code = "KEY_NOT_FOUND"


class DeviceProfileNotFound(NotFound):
    """A playback path naming a device profile there is none of (a body naming one is UNKNOWN_DEVICE_PROFILE, 422)."""

    code = "DEVICE_PROFILE_NOT_FOUND"
