"""`python -m services.gateway`: run the gateway service until SIGINT/SIGTERM."""

from services.gateway.bootstrap import bootstrap

if __name__ == "__main__":
    bootstrap().run()
