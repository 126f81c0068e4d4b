"""Running in production: metrics, health, the monitoring and webhook servers, check, backup."""
