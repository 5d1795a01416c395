from django.urls import path

from . import views

app_name = "cloud"

urlpatterns = [
    path("", views.AccountListView.as_view(), name="account_list"),
    path("accounts/add/", views.AccountCreateView.as_view(), name="account_create"),
    path("accounts/<id:pk>/", views.AccountDetailView.as_view(), name="account_detail"),
    path("accounts/<id:pk>/edit/", views.AccountUpdateView.as_view(), name="account_edit"),
    path("accounts/<id:pk>/delete/", views.AccountDeleteView.as_view(), name="account_delete"),
    path("accounts/<id:pk>/status/", views.AccountStatusView.as_view(), name="account_status"),
    path("accounts/<id:pk>/test/", views.AccountJobView.as_view(), {"what": "test"}, name="account_test"),
    path("accounts/<id:pk>/refresh/", views.AccountJobView.as_view(), {"what": "refresh"}, name="account_refresh"),
    path("sizing/", views.SizingView.as_view(), name="sizing"),
    path("costs/", views.CostSettingsView.as_view(), name="cost_settings"),
    path("costs/models/add/", views.CostModelCreateView.as_view(), name="cost_model_create"),
    path("costs/models/<id:pk>/edit/", views.CostModelUpdateView.as_view(), name="cost_model_edit"),
    path("costs/models/<id:pk>/delete/", views.CostModelDeleteView.as_view(), name="cost_model_delete"),
    path("costs/policy/", views.PolicyUpdateView.as_view(), name="policy_edit"),
    path("prices/", views.PriceTableView.as_view(), name="prices"),
    path("instance-types/", views.InstanceTypeListView.as_view(), name="instance_types"),
]
