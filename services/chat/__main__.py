"""`python -m services.chat`: run the chat service until SIGINT/SIGTERM."""

from services.chat.bootstrap import bootstrap

if __name__ == "__main__":
    bootstrap().run()
