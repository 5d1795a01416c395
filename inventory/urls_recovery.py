from django.urls import path

from . import views_recovery as views

urlpatterns = [
    path("recoveries/", views.ReplacementListView.as_view(), name="replacement_list"),
    path("recoveries/<int:pk>/", views.ReplacementDetailView.as_view(), name="replacement_detail"),
    path("recoveries/<int:pk>/steps/<int:number>/confirm/", views.ReplacementConfirmView.as_view(),
         name="replacement_confirm"),
    path("recoveries/<int:pk>/replan/", views.ReplacementActionView.as_view(action="replan"),
         name="replacement_replan"),
    path("recoveries/<int:pk>/cancel/", views.ReplacementActionView.as_view(action="cancel"),
         name="replacement_cancel"),
    path("hosts/<int:pk>/replace/", views.ReplacementProposeView.as_view(), name="host_replace"),
    path("hosts/<int:pk>/replacement-card/", views.HostReplacementCardView.as_view(), name="host_replacement_card"),
]
