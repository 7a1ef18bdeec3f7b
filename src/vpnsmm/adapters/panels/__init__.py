"""VpnPanel adapters: 3x-UI (:mod:`.xui`), Marzban (:mod:`.marzban`), WireGuard (:mod:`.wireguard`),
the in-memory :class:`~vpnsmm.adapters.panels.fake.FakeVpnPanel`, and in-process fake panel servers
(:mod:`.fake_xui`, :mod:`.fake_marzban`) that the adapters are tested against."""
