"""Route 53: point a service name at an address, and say what it pointed at before.

    previous = upsert_a_record(account, "example.com", "app", "10.0.0.5")   # "10.0.0.9" or None
    delete_a_record(account, "example.com", "app")
"""

from . import aws
from .limits import explained_limits

TTL = 60  # short: a cutover or a rollback shows quickly


def _client(account):
    return aws.client(account, "route53")


def fqdn(zone_name, record_name):
    """"app" in "example.com" → "app.example.com."; a name already in the zone is kept."""
    zone = zone_name.rstrip(".")
    name = record_name.rstrip(".")
    if name != zone and not name.endswith("." + zone):
        name = f"{name}.{zone}"
    return name + "."


def zone_id(account, zone_name, client=None):
    wanted = zone_name.rstrip(".") + "."
    with explained_limits(account, "route53 ListHostedZonesByName"):
        zones = (client or _client(account)).list_hosted_zones_by_name(DNSName=wanted, MaxItems="10")["HostedZones"]
    for zone in zones:
        if zone["Name"] == wanted:
            return zone["Id"].rsplit("/", 1)[-1]
    raise aws.CloudError(f"There is no Route 53 hosted zone {wanted} in this account.", code="NoSuchHostedZone",
                         operation="route53 ListHostedZonesByName")


def a_record(account, zone, name, client=None):
    """The address of the A record `name` in zone id `zone`, or None."""
    with explained_limits(account, "route53 ListResourceRecordSets"):
        sets = (client or _client(account)).list_resource_record_sets(
            HostedZoneId=zone, StartRecordName=name, StartRecordType="A", MaxItems="1")["ResourceRecordSets"]
    for record in sets:
        if record["Name"] == name and record["Type"] == "A" and record.get("ResourceRecords"):
            return record["ResourceRecords"][0]["Value"]
    return None


def upsert_a_record(account, zone_name, record_name, address):
    client = _client(account)
    zone = zone_id(account, zone_name, client)
    name = fqdn(zone_name, record_name)
    previous = a_record(account, zone, name, client)
    _change(account, client, zone, "UPSERT", name, address)
    return previous


def delete_a_record(account, zone_name, record_name):
    """Remove the A record (a rollback of a name that did not exist before); returns the
    address it had, or None when there was none."""
    client = _client(account)
    zone = zone_id(account, zone_name, client)
    name = fqdn(zone_name, record_name)
    previous = a_record(account, zone, name, client)
    if previous is not None:
        _change(account, client, zone, "DELETE", name, previous)
    return previous


def _change(account, client, zone, action, name, address):
    with explained_limits(account, "route53 ChangeResourceRecordSets"):
        client.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
            "Action": action,
            "ResourceRecordSet": {"Name": name, "Type": "A", "TTL": TTL, "ResourceRecords": [{"Value": address}]},
        }]})
