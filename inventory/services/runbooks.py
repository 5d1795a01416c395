"""Restore-from-backup runbooks for a host that took over a failed host's role.

Plain text, written to the journal when a replacement finishes: the steps a sysadmin
follows on the new box, tailored to what the role does (directory, database, mail, web,
application) and filled in with the two hosts' names and addresses.
"""

# Words in a role's slug or name that say what kind of service it is, checked in order
# ("Database server" must not be read as a web or app server).
ROLE_KINDS = (
    ("directory", ("directory", "ldap", "ad", "dc", "domain", "identity", "idm", "kerberos")),
    ("database", ("db", "database", "postgres", "postgresql", "mysql", "mariadb", "oracle", "sql")),
    ("mail", ("mail", "smtp", "mx", "imap", "exchange", "postfix")),
    ("web", ("web", "www", "http", "nginx", "apache", "proxy", "frontend")),
    ("app", ("app", "application", "tomcat", "java", "backend", "api")),
)


def role_kind(role):
    """'directory', 'database', 'mail', 'web', 'app' or 'generic' for a Role (or None)."""
    if role is None:
        return "generic"
    words = set(role.slug.replace("_", "-").split("-")) | set(role.name.lower().replace("-", " ").split())
    for kind, keys in ROLE_KINDS:
        if words & set(keys):
            return kind
    return "generic"


def _addresses(host):
    found = [str(host.mgmt_address)] if host.mgmt_address else []
    found += [str(i.ip_address) for i in host.interfaces.all() if i.ip_address and str(i.ip_address) not in found]
    return ", ".join(found) or "none recorded"


def _service_steps(kind, old, new):
    """The role-specific part: what to restore and how to prove it works."""
    if kind == "directory":
        return [
            f"Do NOT restore {old}'s directory database onto {new} if another domain controller is still up: "
            "a restored DC causes a USN rollback. Instead:",
            f"  a. On a surviving DC, seize the FSMO roles {old} held: "
            "`Move-ADDirectoryServerOperationMasterRole -Identity <surviving DC> "
            "-OperationMasterRole 0,1,2,3,4 -Force` "
            "(check first with `netdom query fsmo`).",
            f"  b. Clean up {old}'s metadata: `ntdsutil \"metadata cleanup\"`, or delete its object in AD Sites and "
            "Services; remove its DNS records (A, _msdcs SRV, NS).",
            f"  c. Install Windows Server on {new}, join the domain and promote it: "
            "`Install-ADDSDomainController -DomainName <domain> -InstallDns`; make it a global catalog.",
            f"Only if {old} was the LAST domain controller: boot {new} into DSRM and restore the latest system-state "
            "backup (`wbadmin start systemstaterecovery -version:<version>`); for OpenLDAP, `slapadd -l` the "
            "latest `slapcat` LDIF into an empty database.",
            "Verify: `dcdiag /v` and `repadmin /replsummary` are clean, clients log on, the PDC emulator serves time "
            "(`w32tm /query /status`), LDAP answers on 389/636.",
        ]
    if kind == "database":
        return [
            f"Make sure {old} cannot come back as a second primary (powered off or its service disabled): two "
            "primaries on one data set is the worst outcome.",
            f"If a replica exists, promote it instead of restoring (`SELECT pg_promote();`) and rebuild {new} as the "
            "new replica with `pg_basebackup -R`. Otherwise restore onto " + new + ":",
            "  a. Install the same major database version and the same extensions as on " + old + ".",
            "  b. Restore the latest base backup and replay the WAL archive to the last good point "
            "(`pgbackrest --stanza=main --delta restore`, or `pg_restore -d <db>` of last night's dump).",
            "  c. Start it and check it left recovery: `SELECT pg_is_in_recovery();` is false.",
            "Verify: the role's port (5432) check goes green, the applications' smoke queries pass, row counts "
            "of the busiest tables match the backup report.",
            f"Re-enable the backup schedule for {new} and check that its first backup succeeds.",
        ]
    if kind == "mail":
        return [
            f"Restore the MTA and IMAP configuration of {old} (/etc/postfix, /etc/dovecot), its TLS certificates "
            "and DKIM private keys from the latest backup.",
            f"Restore the mail store (/var/mail or /var/vmail) from the latest backup; if {old}'s disks are "
            "readable, also recover its queue (/var/spool/postfix) so no accepted mail is lost.",
            "Check the MX and A records, the PTR record and the SPF record if the public address changes.",
            f"Verify: `swaks --to <user> --server {new}` delivers; IMAPS (993) and submission (587) log in; "
            "outgoing mail carries a valid DKIM signature; `postqueue -p` drains.",
        ]
    if kind == "web":
        return [
            f"Apply the web role's configuration to {new} from configuration management (e.g. "
            f"`ansible-playbook site.yml -l {new}`); restore TLS certificates and keys from the secret store or "
            "backup.",
            "Restore document roots and uploaded files from the latest backup unless they live on shared storage.",
            f"Add {new} to the load balancer pool and remove {old} from it.",
            f"Verify: HTTP (80) and HTTPS (443) answer on {new}, the certificate chain is valid, the health URL "
            "behind the load balancer is green.",
        ]
    if kind == "app":
        return [
            f"Deploy the application release {old} ran onto {new} from the CI artifacts (same version), and its "
            "configuration from configuration management.",
            "Restore the application's secrets (keystores, credentials) from the secret store and any local state "
            "(uploads, batch-job files) from the latest backup.",
            f"Register {new} where {old} was registered (load balancer, service discovery, cron/batch scheduler).",
            "Verify: the application's health endpoint answers, its logs show no errors, a smoke test passes.",
        ]
    return [
        f"Install {new} the way {old} was installed (configuration management), then restore {old}'s data from "
        "the latest backup.",
        f"Verify the services {old} provided answer on {new}.",
    ]


def render(failed_host, new_host, was_named, confirmed_by, replacement_id):
    """The runbook text for `new_host` (now carrying `failed_host`'s role)."""
    kind = role_kind(failed_host.role)
    old, new = failed_host.hostname, new_host.hostname
    role = failed_host.role.name if failed_host.role_id else "no role"
    renamed = f" (was {was_named})" if was_named != new else ""
    steps = [
        f"Find the latest good backup of {old} and note its date: everything after it is lost unless "
        f"{old}'s disks can be read.",
        f"Install the operating system on {new} and apply the base configuration (monitoring, backup agent, "
        "SSH keys).",
        *_service_steps(kind, old, new),
        f"Move the service name to {new}: DNS records and aliases that pointed at {old}, firewall rules, "
        "monitoring and backup jobs.",
        f"Write in this journal what was restored, from which backup, and what was lost; then send {old} for "
        "repair (failed → maintenance → spare once fixed).",
    ]
    lines = [
        f"Runbook: restore {old}'s service on {new}{renamed} — {role}, {kind} runbook "
        f"(replacement #{replacement_id}, confirmed by {confirmed_by}).",
        f"{old}: {failed_host.site.name}, addresses {_addresses(failed_host)}. "
        f"{new}: {new_host.cpu_cores} cores, {new_host.memory_gib:g} GiB, {new_host.total_disk_gb} GB disk, "
        f"addresses {_addresses(new_host)}.",
    ]
    number = 0
    for step in steps:
        if step.startswith("  "):  # a sub-step (a., b.) of the step before
            lines.append(step)
        else:
            number += 1
            lines.append(f"{number}. {step}")
    return "\n".join(lines)
