# The dropseg explorer as a Hugging Face Docker Space (docs/space.md): CPU-only PyTorch, the app
# on port 7860, runs read from the Hub repository named by DROPSEG_RUNS (hf://OWNER/NAME).
FROM python:3.11-slim

# Spaces run the container as uid 1000; the Hugging Face cache goes to $HOME/.cache/huggingface.
RUN useradd -m -u 1000 user
USER user
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GRADIO_ANALYTICS_ENABLED=False
WORKDIR $HOME/app

# The CPU build of torch first, from PyTorch's CPU index as the PyTorch install page gives for
# CPU-only Linux. The pins match requirements.txt, which pip then finds satisfied (a local
# version such as 2.14.1+cpu matches ==2.14.1), so the CUDA build is never pulled in.
RUN pip install --user torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu
COPY --chown=user requirements.txt .
RUN pip install --user -r requirements.txt

COPY --chown=user . .

EXPOSE 7860
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
