"""`python -m services.cases`: run the cases service until SIGINT/SIGTERM."""

from services.cases.bootstrap import bootstrap

if __name__ == "__main__":
    bootstrap().run()
