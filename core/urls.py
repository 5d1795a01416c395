from django.urls import path

from . import views

urlpatterns = [
    path("jobs/", views.JobListView.as_view(), name="job_list"),
    path("jobs/<id:pk>/", views.JobDetailView.as_view(), name="job_detail"),
    path("jobs/<id:pk>/progress/", views.JobProgressView.as_view(), name="job_progress"),
    path("jobs/<id:pk>/cancel/", views.JobCancelView.as_view(), name="job_cancel"),
    path("changelog/", views.ChangeLogView.as_view(), name="changelog"),
]
