"""{% library_footer %} and {% library_modal %}: the library's status on every full
page (base.html), with the data they need and nothing else."""

from django import template
from django.template.loader import render_to_string

from library.status import footer_context, modal_context

register = template.Library()


@register.inclusion_tag("library/footer.html")
def library_footer():
    return footer_context()


@register.simple_tag
def library_modal():
    """The first-run modal, or nothing once the library has been read."""
    context = modal_context()
    return render_to_string("library/modal.html", context) if context["show"] else ""
