"""The ASGI application object servers import (``infra.composition.asgi:app``)."""

from infra.composition.web import create_app
from infra.composition.wiring import build
from infra.logging import configure_logging
from infra.settings import get_settings

_settings = get_settings()
configure_logging(_settings.log_level, _settings.log_format)
app = create_app(build(_settings))
