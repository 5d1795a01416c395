"""The cloud app's operations, as plain functions. What other apps (migrations_tool) call:

Talking to AWS (cloud.drivers.aws; the only place that makes boto3 clients):
    client(account, service, *, max_attempts=None, connect_timeout=None, read_timeout=None)
    translated_errors(account, operation)      # context manager: botocore errors -> CloudError
    CloudError(message, code, operation)       # str() is a sentence for the operator

Accounts (accounts):
    test_connection(account, *, save=True, **client_options) -> ConnectionCheck(ok, message, ...)
    ensure_embedded_account(endpoint=None, region="us-east-1") -> (CloudAccount, created)
    prepare_embedded_cloud(account) -> ["key pair opsconsole"]   # what its defaults name (cloud_server does it)

What a launch will use, asked before a run starts (targets):
    target_problems(account, *, subnet, security_group, key_pair, instance_types, dns_zone) -> [sentence]

Instance types (catalogue):
    refresh_instance_types(account, recorder=None) -> {"region", "types", "added", "removed"}
    catalogue_specs(region) -> {name: InstanceType}

Prices (prices):
    price_table(region) -> PriceTable (ec2[name].hourly, rds_price(engine, db_class), ...)

Workloads (workloads):
    load_workloads(host_ids=(), vm_ids=()) -> [Workload]
    select_workloads(kinds, site, role, tag, host_status, host_ids, vm_ids, limit) -> ([Workload], truncated)
    Utilisation(p95_cpu_percent, p95_memory_percent, max_cpu_percent, days)

Sizing and cost, all at once (recommendations):
    recommend(workloads, *, account=None, region=None, policy=None, policy_overrides=None,
              utilisation=None, use_recorded_utilisation=True, prices=None, catalogue=None,
              cost_models=None) -> Result(recommendations=[Recommendation(..., cost=CostEstimate)], totals)

or piece by piece: sizing.Sizer(prices, policy=None, catalogue=None).recommend(workload, utilisation=None)
and cost.monthly_estimate(recommendation, prices, cost.CostModels.load()).

Rehost by block replication through the EBS direct APIs (replication; details in its docstring):
    start_replication(account, ref, *, name="") -> DiskReplication   # ref: hypervisors' DiskRef (vm, host, image)
    disk_problem(ref) -> sentence or None   # is it one of the workload's real disks, can it be read?
    replicate(replication, recorder=None, *, workers=None, take_over=False) -> snapshot id (full, then incremental)
    verify(replication, recorder=None, *, against_source=False) -> VerificationReport (.ok)
    register_image(replication) -> ami id
    launch_instance(account, ami_id, instance_type, *, subnet, security_group, key_name, tags) -> (id, private ip)
    stop_instance / terminate_instance(account, instance_id)
    upsert_dns(account, zone, name, address) -> previous address or None; delete_dns(account, zone, name)

Replatform a database to RDS with its data (rds_replatform):
    source_problem(dsn, engine="postgres") -> sentence or None   # does the source answer?
    create_instance(account, identifier, db_class, engine, storage_gb, ...) -> RdsDatabase
    wait_available(account, identifier, timeout); endpoint_dsn(account, identifier) -> dsn
    copy_data(source_dsn, target_dsn, recorder=None) ; verify(source_dsn, target_dsn) -> {"ok", "tables", ...}
    set_read_only(dsn, on, *, terminate_sessions=False); is_read_only(dsn); delete_instance(account, identifier)
"""
