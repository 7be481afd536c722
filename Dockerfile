FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 MEDIASAGE_DATA_DIR=/data
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN mkdir -p /data && useradd --system --home /app mediasage && chown mediasage /data
USER mediasage
VOLUME /data
EXPOSE 8000
# migrate is idempotent; the web and worker services may both run it at start.
ENTRYPOINT ["sh", "-c", "python manage.py migrate --noinput && exec \"$@\"", "--"]
# gunicorn.conf.py holds the rest of the web server's command line.
CMD ["gunicorn", "--bind", "0.0.0.0:8000"]
