from django.urls import path

from . import views

app_name = "cloud"

urlpatterns = [
    path("", views.AccountListView.as_view(), name="account_list"),
    path("accounts/add/", views.AccountCreateView.as_view(), name="account_create"),
    path("accounts/<int:pk>/", views.AccountDetailView.as_view(), name="account_detail"),
    path("accounts/<int:pk>/edit/", views.AccountUpdateView.as_view(), name="account_edit"),
    path("accounts/<int:pk>/delete/", views.AccountDeleteView.as_view(), name="account_delete"),
    path("accounts/<int:pk>/status/", views.AccountStatusView.as_view(), name="account_status"),
    path("accounts/<int:pk>/test/", views.AccountJobView.as_view(), {"what": "test"}, name="account_test"),
    path("accounts/<int:pk>/refresh/", views.AccountJobView.as_view(), {"what": "refresh"}, name="account_refresh"),
    path("sizing/", views.SizingView.as_view(), name="sizing"),
    path("costs/", views.CostSettingsView.as_view(), name="cost_settings"),
    path("costs/models/add/", views.CostModelCreateView.as_view(), name="cost_model_create"),
    path("costs/models/<int:pk>/edit/", views.CostModelUpdateView.as_view(), name="cost_model_edit"),
    path("costs/models/<int:pk>/delete/", views.CostModelDeleteView.as_view(), name="cost_model_delete"),
    path("costs/policy/", views.PolicyUpdateView.as_view(), name="policy_edit"),
    path("prices/", views.PriceTableView.as_view(), name="prices"),
    path("instance-types/", views.InstanceTypeListView.as_view(), name="instance_types"),
]
