from django.urls import path

from core.generic import model_urls

from . import views
from .forms import CloudAccountForm, OnPremCostModelForm
from .models import CloudAccount, OnPremCostModel

app_name = "cloud"

urlpatterns = [
    path("", views.AccountListView.as_view(), name="cloudaccount_list"),
    *model_urls(CloudAccount, "accounts", CloudAccountForm, views={"detail": views.AccountDetailView}),
    path("accounts/<id:pk>/status/", views.AccountStatusView.as_view(), name="cloudaccount_status"),
    path("accounts/<id:pk>/test/", views.AccountJobView.as_view(), {"what": "test"}, name="cloudaccount_test"),
    path("accounts/<id:pk>/refresh/", views.AccountJobView.as_view(), {"what": "refresh"},
         name="cloudaccount_refresh"),
    path("sizing/", views.SizingView.as_view(), name="sizing"),
    path("costs/", views.CostSettingsView.as_view(), name="cost_settings"),
    # cost models are listed on the cost settings page
    *model_urls(OnPremCostModel, "costs/models", OnPremCostModelForm, list_url=views.COST_SETTINGS),
    path("costs/policy/", views.PolicyUpdateView.as_view(), name="sizingpolicy_edit"),
    path("prices/", views.PriceTableView.as_view(), name="prices"),
    path("instance-types/", views.InstanceTypeListView.as_view(), name="instance_types"),
]
