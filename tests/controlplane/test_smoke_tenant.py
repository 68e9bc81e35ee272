def test_a_tenant_builds(tenant_a):
    assert tenant_a.run.state == "QUEUED"
