# The portal's image: web (gunicorn) and workers (RQ) run from the same image with different commands
# (docker-compose.yml). Debian bookworm's Python 3.11, the CJK font embedded in the PDFs, the PostgreSQL client for
# deploy/backup.sh. Build: docker build -t drp-portal .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTAL_ENV=production \
    PORTAL_STORAGE=/var/lib/drp-portal/storage \
    GUNICORN_BIND=0.0.0.0:8000 \
    GUNICORN_FORWARDED_ALLOW_IPS=*

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-wqy-microhei postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system drp && useradd --system --gid drp --home-dir /app --shell /usr/sbin/nologin drp

WORKDIR /app
# the code runs from /app (templates/ and migrations/ sit beside portal/), installed in place with its pinned
# dependencies; no dev extras in the image
COPY . /app
RUN pip install -e . \
 && python -c "from portal.platform.i18n import compile_catalogs; compile_catalogs('portal/translations')" \
 && mkdir -p /app/instance /var/lib/drp-portal/storage \
 && chown -R drp:drp /app/instance /var/lib/drp-portal

USER drp
VOLUME ["/var/lib/drp-portal/storage"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/login', timeout=4).status == 200 else 1)"

CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "portal:create_app()"]
