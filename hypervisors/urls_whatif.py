from django.urls import path

from . import views_whatif as views

urlpatterns = [
    path("<id:pk>/what-if/", views.HypervisorWhatIfView.as_view(), name="hypervisor_what_if"),
    path("what-if/rack/<id:pk>/", views.RackWhatIfView.as_view(), name="rack_what_if"),
]
