from django.urls import path

from core.generic import ObjectDeleteView, model_urls

from . import views
from .models import MigrationPlan
from .services import plans

app_name = "migrations_tool"

urlpatterns = [
    path("", views.PlanListView.as_view(), name="migrationplan_list"),
    path("new/", views.PickView.as_view(), name="migrationplan_add"),
    path("plans/<id:pk>/", views.AssessmentView.as_view(), name="plan_assessment"),
    path("plans/<id:pk>/waves/", views.WavesView.as_view(), name="plan_waves"),
    path("plans/<id:pk>/targets/", views.TargetsView.as_view(), name="plan_targets"),
    path("plans/<id:pk>/review/", views.ReviewView.as_view(), name="plan_review"),
    *model_urls(MigrationPlan, "plans", only=("delete",), views={
        "delete": ObjectDeleteView.as_view(model=MigrationPlan, delete_function=plans.delete_plan)}),
    path("runs/<id:pk>/", views.RunDetailView.as_view(), name="run_detail"),
    path("runs/<id:pk>/status/", views.RunStatusView.as_view(), name="run_status"),
    path("runs/<id:pk>/<str:control>/", views.RunControlView.as_view(), name="run_control"),
    path("hosts/<id:pk>/card/", views.HostMigrationCardView.as_view(), name="host_card"),
]
