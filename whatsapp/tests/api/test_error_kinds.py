"""Every kind of service error has a status on each surface, so none can turn into a 500."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError, ErrorKind, NotFoundError
from whatsapp.json_errors import api_status
from whatsapp.views.responses import error_status


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_has_an_api_status_and_a_page_status(kind):
    error = ApplicationError("No.", "no", kind=kind)
    assert 400 <= api_status(error) < 600
    assert 400 <= error_status(error) < 500  # a page that explains an error is never a 5xx


def test_gateway_trouble_is_a_5xx_in_the_api_but_a_422_page():
    for kind, api in ((ErrorKind.GATEWAY, 502), (ErrorKind.UNAVAILABLE, 503)):
        error = ApplicationError("The gateway is down.", "gateway_error", kind=kind)
        assert (api_status(error), error_status(error)) == (api, 422)


def test_a_rule_broken_without_a_kind_is_invalid_input_and_not_found_is_404():
    assert api_status(ApplicationError("Empty body.", "empty_body")) == 422
    assert api_status(NotFoundError("No such device.", "device_not_found")) == 404
