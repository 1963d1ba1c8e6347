async def test_healthz(anonymous):
    response = await anonymous.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz(anonymous):
    response = await anonymous.get("/readyz")
    assert response.status == 200
