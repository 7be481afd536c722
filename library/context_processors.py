from django.conf import settings


def demo(request):
    """Whether the header shows the demo badge: a setting, no query."""
    return {"demo": settings.DEMO_MODE}
