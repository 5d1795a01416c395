"""Before a migration starts: does the cloud have what it will use? Asks AWS (or the
embedded cloud) for each target by the name the plan gives, and says what is missing.

    problems = target_problems(account, subnet="default", security_group="default",
                               key_pair="opsconsole", instance_types=["m7i.large"], dns_zone="corp.example.")
    # [] when everything is there, else one sentence per missing thing

Nothing is created or changed. An account that cannot be reached at all is one problem,
not one per target.
"""

from ..drivers import aws, ec2, route53

# Codes after which asking about the other targets cannot answer either.
UNANSWERED = {"unreachable", "timeout", "no-credentials", "bad-response", *aws.CREDENTIAL_ERRORS}


def target_problems(account, *, subnet="", security_group="", key_pair="", instance_types=(), dns_zone=""):
    """One sentence per target the account's region does not have (empty: all there)."""
    problems = []
    client = ec2.ec2_client(account)
    checks = []
    found = {}
    if subnet:
        checks.append(lambda: found.update(subnet=ec2.subnet_id(account, subnet, client)))
    if security_group:
        checks.append(lambda: ec2.security_group_id(account, security_group, found.get("subnet"), client))
    if key_pair:
        checks.append(lambda: ec2.check_key_pair(account, key_pair, client))
    for instance_type in sorted(set(instance_types)):
        checks.append(lambda instance_type=instance_type: ec2.check_instance_type(account, instance_type, client))
    if dns_zone:
        checks.append(lambda: route53.zone_id(account, dns_zone))
    for check in checks:
        try:
            check()
        except aws.CloudError as exc:
            problems.append(str(exc))
            if exc.code in UNANSWERED:
                break
    return problems
