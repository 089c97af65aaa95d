"""Start the dropseg explorer: ``python app.py [--runs DIR] [--host 127.0.0.1] [--port 7860]``."""

import os

# Set before gradio is first imported, so that the app makes no outside connections.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from explorer.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
