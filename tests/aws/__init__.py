"""Tests against moto (AWS APIs on loopback): provisioning, and the edge's OAC signing checked by moto's S3."""
