"""`python -m services.routing`: run the routing service until SIGINT/SIGTERM."""

from services.routing.bootstrap import bootstrap

if __name__ == "__main__":
    bootstrap().run()
