"""The gateway names the public default token secret at every start (bootstrap.secret_warning)."""

import pytest

from services.gateway.bootstrap import secret_warning
from services.gateway.settings import DEV_TOKEN_SECRET, GatewaySettings

pytestmark = pytest.mark.unit


def test_the_default_secret_is_named_and_a_set_one_is_not():
    warning = secret_warning(GatewaySettings(token_secret=DEV_TOKEN_SECRET))
    assert warning is not None and "TOKEN_SECRET" in warning and "public" in warning
    assert secret_warning(GatewaySettings(token_secret="x" * 43)) is None


def test_the_default_still_accepted_as_the_previous_secret_is_named():
    warning = secret_warning(GatewaySettings(token_secret="x" * 43, token_secret_previous=DEV_TOKEN_SECRET))
    assert warning is not None and "TOKEN_SECRET_PREVIOUS" in warning
    assert secret_warning(GatewaySettings(token_secret="x" * 43, token_secret_previous="y" * 43)) is None
