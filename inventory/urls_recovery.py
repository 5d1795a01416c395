from django.urls import path

from . import views_recovery as views

urlpatterns = [
    path("recoveries/", views.ReplacementListView.as_view(), name="replacement_list"),
    path("recoveries/<id:pk>/", views.ReplacementDetailView.as_view(), name="replacement_detail"),
    path("recoveries/<id:pk>/steps/<id:number>/confirm/", views.ReplacementConfirmView.as_view(),
         name="replacement_confirm"),
    path("recoveries/<id:pk>/replan/", views.ReplacementActionView.as_view(action="replan"),
         name="replacement_replan"),
    path("recoveries/<id:pk>/cancel/", views.ReplacementActionView.as_view(action="cancel"),
         name="replacement_cancel"),
    path("hosts/<id:pk>/replace/", views.ReplacementProposeView.as_view(), name="host_replace"),
    path("hosts/<id:pk>/replacement-card/", views.HostReplacementCardView.as_view(), name="host_replacement_card"),
]
