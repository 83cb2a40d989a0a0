"""Authentication and authorisation primitives of the gateway: pure code, no routes and no storage.

`passwords` (argon2id), `tokens` (access, refresh and customer tokens), `customers` (the widget's
visitor ids and authenticated-customer HMAC), `permissions` (the one table of who may do what).
The rules and the token scheme for frontend developers are in `services/gateway/README.md`.
"""
