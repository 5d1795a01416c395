from django.urls import path

from . import views_whatif as views

urlpatterns = [
    path("what-if/", views.WhatIfView.as_view(), name="hypervisor-what-if"),
    path("n-plus-one/", views.NPlusOneView.as_view(), name="hypervisor-n-plus-one"),
]
