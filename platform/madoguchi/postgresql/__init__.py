"""Django's database backend for Madoguchi: django-tenants' backend that waits out a failover (issue 11)."""
