"""Settings of the gateway service (environment variables, local defaults)."""

from pydantic import Field
from shared.contracts.chat.attachments import MAX_ATTACHMENT_BYTES
from shared.registry import service
from shared.settings import ServiceSettings

REGISTERED = service("gateway")
# The default token secret: public (it is in this file), for ./dev, the tests and a first trial only. Anyone can
# sign staff tokens with it, so the gateway says so loudly at every start while it is in use (bootstrap.py).
DEV_TOKEN_SECRET = "dev-only-change-me-dev-only-change-me"


class GatewaySettings(ServiceSettings):
    service_name: str = REGISTERED.name
    http_port: int = REGISTERED.http_port
    chat_url: str = Field("http://127.0.0.1:8102", description="Chat's internal read API.")
    routing_url: str = Field("http://127.0.0.1:8101", description="Routing's internal read API.")
    customer_url: str = Field("http://127.0.0.1:8103", description="Customer's internal read API.")
    cases_url: str = Field("http://127.0.0.1:8104", description="Cases' internal read API.")
    token_secret: str = Field(
        DEV_TOKEN_SECRET,
        description="Signs access, customer and visitor tokens (HS256). Set a long random value in production.")
    token_secret_previous: str = Field(
        "", description="The token secret being rotated out: tokens it signed are still accepted (new ones are "
                        "signed with token_secret). Empty: none. Remove it once the longest token lifetime "
                        "(customer_ttl_s, a day by default) has passed since the switch.")
    access_ttl_s: int = Field(900, description="Lifetime of an access token; refresh tokens renew it.")
    refresh_ttl_s: int = Field(30 * 24 * 3600, description="Lifetime of a refresh token (rotated on use).")
    customer_ttl_s: int = Field(24 * 3600, description="Lifetime of a customer's conversation token.")
    replay_window_s: int = Field(
        24 * 3600, description="How far back a reconnecting client can resume its stream; older: 'resync'.")
    answer_timeout_s: float = Field(
        5.0, description="How long a command endpoint waits for the owner's answer before a 504 with a URL "
                         "where the answer can be fetched later.")
    rate_limit_per_s: float = Field(
        50.0, description="Requests per second one bearer token (a staff session, a customer's conversation) may "
                          "make, refilled continuously; beyond its burst it gets 429 with Retry-After.")
    rate_limit_burst: int = Field(100, description="How many requests one token may make at once.")
    chat_starts_per_minute: int = Field(
        120, description="Anonymous chat starts per client address per minute (every visitor behind one address "
                         "shares it).")
    max_body_bytes: int = Field(1024 * 1024, description="Largest JSON request body; attachments have their own "
                                                         "limits.")
    argon2_time_cost: int = Field(3, description="argon2id time cost (argon2-cffi's default).")
    argon2_memory_kib: int = Field(65536, description="argon2id memory cost in KiB (argon2-cffi's default).")
    attachment_max_body_bytes: int = Field(
        MAX_ATTACHMENT_BYTES, description="Hard cap on an uploaded file, whatever a tenant allows: a larger body is "
                                          "refused (413) as soon as it is seen, never read whole.")
