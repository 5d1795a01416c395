from core.jobs import create_job


def test_sealed_params_are_never_shown(viewer_api, client, viewer):
    job = create_job("inventory.import", "Import", params={"rows": 3, "csv_sealed": "gAAAA-secret-blob"})
    body = viewer_api.get(f"/api/jobs/{job.pk}/").json()
    assert body["params"] == {"rows": 3, "csv_sealed": "(sealed)"}
    client.force_login(viewer)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "gAAAA-secret-blob" not in page and "(sealed)" in page
