"""The console pages every model's objects get the same way: list, add, edit, delete.

A model's pages are named after its model_name, one pattern everywhere:
`<app>:<model>_list`, `<model>_add`, `<model>_detail`, `<model>_edit`, `<model>_delete`
(e.g. `inventory:namingscheme_edit`), so a page finds its siblings from the model alone
(`model_url(Site, "list")`). `model_urls()` makes those URL patterns; like NetBox's
get_model_urls it serves generic views unless the app gives an action a view of its own.

The role each page needs is the model's `required_roles` (core.roles.model_role), the
declaration the API's RolePermission reads too: one rule for both.
"""

from collections import Counter

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import ProtectedError, RestrictedError
from django.db.models.deletion import Collector
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import NoReverseMatch, path, reverse
from django.views.generic import DeleteView
from django.views.generic.detail import SingleObjectTemplateResponseMixin
from django.views.generic.edit import ModelFormMixin, ProcessFormView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from .mixins import RoleRequiredMixin
from .roles import may, model_role

# action: the URL below the model's prefix
ACTIONS = {
    "list": "",
    "add": "add/",
    "detail": "<id:pk>/",
    "edit": "<id:pk>/edit/",
    "delete": "<id:pk>/delete/",
}
BLOCKERS_SHOWN = 10


def viewname(model, action):
    """`<app>:<model>_<action>`, the URL name of a model's page."""
    return f"{model._meta.app_label}:{model._meta.model_name}_{action}"


def model_url(model, action, obj=None):
    """The URL of a model's page, or "" when the app has no such page."""
    try:
        return reverse(viewname(model, action), args=[obj.pk] if obj is not None else [])
    except NoReverseMatch:
        return ""


def model_urls(model, prefix, form_class=None, views=None, only=None, **options):
    """URL patterns of `model`'s pages below `prefix/`, named `<model>_<action>`.

    Add and edit (with `form_class`) and delete are generic unless `views` gives an action
    a view class of its own (the list, the detail page, a form with inline rows); `only`
    limits the actions served. `options` set attributes of the generic views (list_url...).
    """
    views = dict(views or {})
    if form_class is not None:
        views.setdefault("add", ObjectEditView.as_view(model=model, form_class=form_class, **options))
        views.setdefault("edit", ObjectEditView.as_view(model=model, form_class=form_class, **options))
    views.setdefault("delete", ObjectDeleteView.as_view(model=model, **options))
    patterns = []
    for action, below in ACTIONS.items():
        view = views.get(action)
        if view is None or (only is not None and action not in only):
            continue
        view = view.as_view() if isinstance(view, type) else view
        route = f"{prefix}/{below}" if prefix else below
        patterns.append(path(route, view, name=f"{model._meta.model_name}_{action}"))
    return patterns


class ModelRoleMixin(RoleRequiredMixin):
    """Needs the role the model declares for `operation`; says in the context what else
    the user may do with the model's objects (so templates show only usable buttons)."""

    operation = "view"
    list_url = None  # where a list of these objects is, when it is not `<model>_list`

    def get_required_role(self):
        return model_role(self.model, self.operation)

    def get_list_url(self):
        return str(self.list_url) if self.list_url else model_url(self.model, "list")

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            verbose_name=self.model._meta.verbose_name,
            verbose_name_plural=self.model._meta.verbose_name_plural,
            list_url=self.get_list_url(),
            can_change=may(user, self.model, "change"),
            can_delete=may(user, self.model, "delete"),
            **kwargs,
        )


class ObjectListView(ModelRoleMixin, FilterView):
    """A model's objects, filtered by `filterset_class` (none by default), 50 a page."""

    template_name = "generic/object_list.html"
    filterset_fields = []  # django-filter would otherwise filter on every field
    paginate_by = 50
    empty_text = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(empty_text=self.empty_text, **kwargs)
        context["add_url"] = model_url(self.model, "add") if context["can_change"] else ""
        page = context.get("page_obj")
        context["page_range"] = page.paginator.get_elided_page_range(page.number) if page else []
        return context


class ObjectTableView(SingleTableMixin, ObjectListView):
    """A list as a django-tables2 table: sortable columns, the table paginates."""

    paginate_by = None  # the table paginates; the list would count the objects a second time
    table_pagination = {"per_page": 50}


class ObjectEditView(ModelRoleMixin, SingleObjectTemplateResponseMixin, ModelFormMixin, ProcessFormView):
    """Add (no pk in the URL) or edit an object with `form_class`. Invalid input comes back
    as field errors with status 400; a saved object goes to its page, else to the list."""

    operation = "change"
    template_name = "generic/object_form.html"
    template_name_suffix = "_form"

    def get_object(self, queryset=None):
        if self.pk_url_kwarg not in self.kwargs:
            return None
        return super().get_object(queryset)

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"{self.model._meta.verbose_name.capitalize()} {self.object} saved.")
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def get_success_url(self):
        if self.success_url:
            return str(self.success_url)
        if hasattr(self.object, "get_absolute_url"):
            return self.object.get_absolute_url()
        return self.get_list_url()

    def get_cancel_url(self):
        if self.object is not None and self.object.pk and hasattr(self.object, "get_absolute_url"):
            return self.object.get_absolute_url()
        return self.get_list_url()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["cancel_url"] = self.get_cancel_url()
        context["delete_url"] = ""
        if self.object is not None and self.object.pk and context["can_delete"]:
            context["delete_url"] = model_url(self.model, "delete", self.object)
        return context


def deletion_effects(obj):
    """({verbose name plural: count} of what deleting `obj` deletes with it, [objects that
    stop it]): what the confirmation page says before anyone presses Delete."""
    collector = Collector(using=router.db_for_write(type(obj)), origin=obj)
    try:
        collector.collect([obj])
    except (ProtectedError, RestrictedError) as exc:
        return {}, blocking_objects(exc)
    counts = Counter()
    for model, instances in collector.data.items():
        counts[model] += len(instances)
    for queryset in collector.fast_deletes:
        counts[queryset.model] += queryset.count()
    counts[type(obj)] -= 1  # the object itself
    return {
        model._meta.verbose_name_plural: count
        for model, count in sorted(counts.items(), key=lambda item: item[0]._meta.verbose_name_plural)
        if count > 0 and not model._meta.auto_created  # many-to-many rows say nothing to a reader
    }, []


def blocking_objects(exc):
    return list(exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects)


def in_use_sentence(obj, blockers):
    names = sorted(f"{type(b)._meta.verbose_name} {b}" for b in blockers)
    shown = ", ".join(names[:BLOCKERS_SHOWN])
    more = f" and {len(names) - BLOCKERS_SHOWN} more" if len(names) > BLOCKERS_SHOWN else ""
    return (f"{type(obj)._meta.verbose_name.capitalize()} {obj} is still in use and was not deleted: "
            f"{shown}{more}. Delete or move these first.")


class ObjectDeleteView(ModelRoleMixin, DeleteView):
    """Delete after confirmation. The page says what goes with the object; an object still
    in use (PROTECT, RESTRICT), or one its service refuses to delete, stays, with a sentence.

    `delete_function(obj, user=...)`, given to as_view(), is the service that checks and
    deletes (a migration plan with a run in progress is refused); by default obj.delete().
    """

    operation = "delete"
    template_name = "generic/object_confirm_delete.html"
    delete_function = None

    def get_success_url(self):
        return str(self.success_url) if self.success_url else self.get_list_url()

    def get_cancel_url(self):
        return self.object.get_absolute_url() if hasattr(self.object, "get_absolute_url") else self.get_list_url()

    def get_context_data(self, **kwargs):
        cascaded, blockers = deletion_effects(self.object)
        return super().get_context_data(
            cancel_url=self.get_cancel_url(), cascaded=cascaded,
            in_use=in_use_sentence(self.object, blockers) if blockers else "", **kwargs,
        )

    def delete_object(self, obj):
        if self.delete_function is None:
            obj.delete()
        else:
            self.delete_function(obj, user=self.request.user)

    def form_valid(self, form):
        obj, name = self.object, str(self.object)
        success_url = self.get_success_url()  # before the object (and what it points to) is gone
        try:
            with transaction.atomic():
                self.delete_object(obj)
        except (ProtectedError, RestrictedError) as exc:
            messages.error(self.request, in_use_sentence(obj, blocking_objects(exc)))
            return redirect(self.request.path)
        except ValidationError as exc:
            messages.error(self.request, " ".join(exc.messages))
            return redirect(self.request.path)
        messages.success(self.request, f"{self.model._meta.verbose_name.capitalize()} {name} deleted.")
        return HttpResponseRedirect(success_url)
