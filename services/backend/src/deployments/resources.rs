//! A deployment's resource spec: validated on write, and read back with every default filled
//! in, so what a client reads is what the data plane will run.

use ironsmith_api_types::deployments::ResourceSpec;
use ironsmith_http::ApiError;

/// CPU requests (cores) are 0.1–8.0 and limits 0.1–16.0 unless the installation lifts caps.
const CPU_RANGE: (f64, f64) = (0.1, 8.0);
const CPU_LIMIT_RANGE: (f64, f64) = (0.1, 16.0);
/// Memory, MB.
const MEMORY_RANGE: (i64, i64) = (128, 65_536);
const MEMORY_LIMIT_RANGE: (i64, i64) = (128, 131_072);
const MAX_SCALE: i64 = 10;

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn check_cpu(
    field: &str,
    value: Option<f64>,
    range: (f64, f64),
    capped: bool,
) -> Result<Option<f64>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    let v = round1(v);
    if !v.is_finite() || v < range.0 || (capped && v > range.1) {
        return Err(ApiError::BadRequest(format!(
            "resource_spec.{field} must be between {} and {} cores",
            range.0, range.1
        )));
    }
    Ok(Some(v))
}

fn check_int(
    field: &str,
    value: Option<i64>,
    range: (i64, i64),
    capped: bool,
) -> Result<(), ApiError> {
    match value {
        Some(v) if v < range.0 || (capped && v > range.1) => Err(ApiError::BadRequest(format!(
            "resource_spec.{field} must be between {} and {}",
            range.0, range.1
        ))),
        _ => Ok(()),
    }
}

/// Checks a spec as sent; CPU values are rounded to one decimal. `capped` is off when the
/// installation allows uncapped resources.
pub fn validate(mut spec: ResourceSpec, capped: bool) -> Result<ResourceSpec, ApiError> {
    spec.cpu = check_cpu("cpu", spec.cpu, CPU_RANGE, capped)?;
    spec.cpu_limit = check_cpu("cpu_limit", spec.cpu_limit, CPU_LIMIT_RANGE, capped)?;
    spec.queue_cpu = check_cpu("queue_cpu", spec.queue_cpu, CPU_RANGE, capped)?;
    spec.queue_cpu_limit = check_cpu(
        "queue_cpu_limit",
        spec.queue_cpu_limit,
        CPU_LIMIT_RANGE,
        capped,
    )?;
    spec.redis_cpu = check_cpu("redis_cpu", spec.redis_cpu, CPU_RANGE, capped)?;
    spec.redis_cpu_limit = check_cpu(
        "redis_cpu_limit",
        spec.redis_cpu_limit,
        CPU_LIMIT_RANGE,
        capped,
    )?;
    spec.db_cpu = check_cpu("db_cpu", spec.db_cpu, CPU_RANGE, capped)?;
    spec.db_cpu_limit = check_cpu("db_cpu_limit", spec.db_cpu_limit, CPU_LIMIT_RANGE, capped)?;
    for (field, value) in [
        ("memory_mb", spec.memory_mb),
        ("queue_memory_mb", spec.queue_memory_mb),
        ("redis_memory_mb", spec.redis_memory_mb),
        ("db_memory_mb", spec.db_memory_mb),
    ] {
        check_int(field, value, MEMORY_RANGE, capped)?;
    }
    for (field, value) in [
        ("memory_limit_mb", spec.memory_limit_mb),
        ("queue_memory_limit_mb", spec.queue_memory_limit_mb),
        ("redis_memory_limit_mb", spec.redis_memory_limit_mb),
        ("db_memory_limit_mb", spec.db_memory_limit_mb),
    ] {
        check_int(field, value, MEMORY_LIMIT_RANGE, capped)?;
    }
    for (field, value) in [
        ("min_scale", spec.min_scale),
        ("max_scale", spec.max_scale),
        ("queue_min_scale", spec.queue_min_scale),
        ("queue_max_scale", spec.queue_max_scale),
    ] {
        check_int(field, value, (0, MAX_SCALE), capped)?;
    }
    check_int("db_storage_gi", spec.db_storage_gi, (1, 1024), capped)?;
    check_int(
        "db_max_connections",
        spec.db_max_connections,
        (10, 5000),
        capped,
    )?;
    if let (Some(min), Some(max)) = (spec.min_scale, spec.max_scale)
        && min > max
    {
        return Err(ApiError::BadRequest(
            "resource_spec.min_scale must not exceed max_scale".into(),
        ));
    }
    Ok(spec)
}

/// The spec with every default filled in. `dev` deployments get 1 CPU / 1 GB and one
/// replica; others 2 CPU / 2 GB and up to 10 replicas. A missing limit is twice its request,
/// except Redis memory, whose limit is its request. The queue takes the API server's values.
pub fn materialise(spec: Option<ResourceSpec>, deployment_type: Option<&str>) -> ResourceSpec {
    let mut s = spec.unwrap_or_default();
    let dev = deployment_type.is_some_and(|t| t.starts_with("dev"));
    let (cpu, memory, max_scale) = if dev { (1.0, 1024, 1) } else { (2.0, 2048, 10) };
    s.min_scale = s.min_scale.or(Some(1));
    s.max_scale = s
        .max_scale
        .or(Some(max_scale.max(s.min_scale.unwrap_or(1))));
    s.cpu = s.cpu.or(Some(cpu));
    s.cpu_limit = s.cpu_limit.or(s.cpu.map(|c| round1(c * 2.0)));
    s.memory_mb = s.memory_mb.or(Some(memory));
    s.memory_limit_mb = s.memory_limit_mb.or(s.memory_mb.map(|m| m * 2));
    s.queue_min_scale = s.queue_min_scale.or(s.min_scale);
    s.queue_max_scale = s.queue_max_scale.or(s.max_scale);
    s.queue_cpu = s.queue_cpu.or(s.cpu);
    s.queue_cpu_limit = s.queue_cpu_limit.or(s.queue_cpu.map(|c| round1(c * 2.0)));
    s.queue_memory_mb = s.queue_memory_mb.or(s.memory_mb);
    s.queue_memory_limit_mb = s.queue_memory_limit_mb.or(s.queue_memory_mb.map(|m| m * 2));
    s.redis_cpu = s.redis_cpu.or(Some(0.5));
    s.redis_cpu_limit = s.redis_cpu_limit.or(s.redis_cpu.map(|c| round1(c * 2.0)));
    s.redis_memory_mb = s.redis_memory_mb.or(Some(512));
    s.redis_memory_limit_mb = s.redis_memory_limit_mb.or(s.redis_memory_mb);
    s.db_cpu = s.db_cpu.or(Some(0.5));
    s.db_cpu_limit = s.db_cpu_limit.or(s.db_cpu.map(|c| round1(c * 2.0)));
    s.db_memory_mb = s.db_memory_mb.or(Some(1024));
    s.db_memory_limit_mb = s.db_memory_limit_mb.or(s.db_memory_mb.map(|m| m * 2));
    s.db_storage_gi = s.db_storage_gi.or(Some(10));
    s.db_max_connections = s.db_max_connections.or(Some(100));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_to_twice_the_request_and_redis_memory_to_the_request() {
        let spec = materialise(
            Some(ResourceSpec {
                cpu: Some(1.5),
                memory_mb: Some(3000),
                redis_memory_mb: Some(700),
                ..Default::default()
            }),
            Some("prod"),
        );
        assert_eq!(spec.cpu_limit, Some(3.0));
        assert_eq!(spec.memory_limit_mb, Some(6000));
        assert_eq!(spec.queue_cpu, Some(1.5));
        assert_eq!(spec.redis_memory_limit_mb, Some(700));
        assert_eq!(spec.max_scale, Some(10));
        assert_eq!(materialise(None, Some("dev")).max_scale, Some(1));
    }

    #[test]
    fn cpu_is_rounded_and_capped_unless_uncapped() {
        let spec = validate(
            ResourceSpec {
                cpu: Some(1.26),
                ..Default::default()
            },
            true,
        )
        .unwrap();
        assert_eq!(spec.cpu, Some(1.3));
        assert!(
            validate(
                ResourceSpec {
                    cpu: Some(9.0),
                    ..Default::default()
                },
                true
            )
            .is_err()
        );
        assert!(
            validate(
                ResourceSpec {
                    cpu: Some(9.0),
                    ..Default::default()
                },
                false
            )
            .is_ok()
        );
        assert!(
            validate(
                ResourceSpec {
                    cpu: Some(0.01),
                    ..Default::default()
                },
                false
            )
            .is_err()
        );
    }
}
