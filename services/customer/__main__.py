"""`python -m services.customer`: run the customer service until SIGINT/SIGTERM."""

from services.customer.bootstrap import bootstrap

if __name__ == "__main__":
    bootstrap().run()
