# Every aws_ssmcontacts_* and aws_ssmincidents_* resource and data source of the hashicorp/aws
# provider, pointed at a Klaxon server. tests/api/terraform.rs applies it, changes the variables,
# imports each resource into an empty state and destroys it.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint" { type = string }
variable "display_name" { default = "Akua Mansa" }
variable "stage_minutes" { default = 5 }
variable "rotation_second_member" { default = "jdoe" }
variable "incident_title" { default = "Checkout is down" }

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    ssmcontacts  = var.endpoint
    ssmincidents = var.endpoint
  }
}

resource "aws_ssmincidents_replication_set" "main" {
  region {
    name = "us-east-1"
  }
  tags = { team = "payments" }
}

resource "aws_ssmcontacts_contact" "akua" {
  alias        = "akuam"
  display_name = var.display_name
  type         = "PERSONAL"
  tags         = { team = "payments" }
  depends_on   = [aws_ssmincidents_replication_set.main]
}

resource "aws_ssmcontacts_contact" "jdoe" {
  alias      = "jdoe"
  type       = "PERSONAL"
  depends_on = [aws_ssmincidents_replication_set.main]
}

resource "aws_ssmcontacts_contact" "sam" {
  alias        = "sam"
  display_name = "Sam Okafor"
  type         = "PERSONAL"
  depends_on   = [aws_ssmincidents_replication_set.main]
}

resource "aws_ssmcontacts_contact" "escalation" {
  alias        = "checkout-escalation"
  display_name = "Checkout escalation"
  type         = "ESCALATION"
  depends_on   = [aws_ssmincidents_replication_set.main]
}

resource "aws_ssmcontacts_contact_channel" "akua_email" {
  contact_id = aws_ssmcontacts_contact.akua.arn
  name       = "akua-email"
  type       = "EMAIL"
  delivery_address {
    simple_address = "akua@example.com"
  }
}

resource "aws_ssmcontacts_contact_channel" "akua_sms" {
  contact_id = aws_ssmcontacts_contact.akua.arn
  name       = "akua-sms"
  type       = "SMS"
  delivery_address {
    simple_address = "+12065550100"
  }
}

resource "aws_ssmcontacts_plan" "akua" {
  contact_id = aws_ssmcontacts_contact.akua.arn
  stage {
    duration_in_minutes = var.stage_minutes
    target {
      channel_target_info {
        contact_channel_id       = aws_ssmcontacts_contact_channel.akua_sms.arn
        retry_interval_in_minutes = 1
      }
    }
  }
  stage {
    duration_in_minutes = 10
    target {
      channel_target_info {
        contact_channel_id = aws_ssmcontacts_contact_channel.akua_email.arn
      }
    }
  }
}

resource "aws_ssmcontacts_plan" "escalation" {
  contact_id = aws_ssmcontacts_contact.escalation.arn
  stage {
    duration_in_minutes = 10
    target {
      contact_target_info {
        contact_id   = aws_ssmcontacts_contact.akua.arn
        is_essential = true
      }
    }
  }
  stage {
    duration_in_minutes = 10
    target {
      contact_target_info {
        contact_id   = aws_ssmcontacts_contact.jdoe.arn
        is_essential = false
      }
    }
  }
}

locals {
  second = {
    jdoe = aws_ssmcontacts_contact.jdoe.arn
    sam  = aws_ssmcontacts_contact.sam.arn
  }
}

# One shift coverage whose start and end share the minute: provider 5.100.0 reads coverages back
# from a Go map (in random order) and gives the start the end's minute, so anything else drifts
# against AWS as well.
resource "aws_ssmcontacts_rotation" "weekly" {
  name         = "checkout-weekly"
  contact_ids  = [aws_ssmcontacts_contact.akua.arn, local.second[var.rotation_second_member]]
  time_zone_id = "America/New_York"
  start_time   = "2026-01-05T09:00:00Z"
  recurrence {
    number_of_on_calls    = 1
    recurrence_multiplier = 1
    weekly_settings {
      day_of_week = "MON"
      hand_off_time {
        hour_of_day    = 9
        minute_of_hour = 0
      }
    }
    weekly_settings {
      day_of_week = "THU"
      hand_off_time {
        hour_of_day    = 9
        minute_of_hour = 30
      }
    }
    shift_coverages {
      map_block_key = "MON"
      coverage_times {
        start {
          hour_of_day    = 8
          minute_of_hour = 0
        }
        end {
          hour_of_day    = 18
          minute_of_hour = 0
        }
      }
    }
  }
  tags       = { team = "payments", tier = "1" }
  depends_on = [aws_ssmincidents_replication_set.main]
}

resource "aws_ssmcontacts_rotation" "daily" {
  name         = "checkout-daily"
  contact_ids  = [aws_ssmcontacts_contact.jdoe.arn, aws_ssmcontacts_contact.sam.arn]
  time_zone_id = "Europe/Berlin"
  recurrence {
    number_of_on_calls    = 1
    recurrence_multiplier = 2
    daily_settings {
      hour_of_day    = 7
      minute_of_hour = 0
    }
  }
  depends_on = [aws_ssmincidents_replication_set.main]
}

resource "aws_ssmcontacts_rotation" "monthly" {
  name         = "checkout-monthly"
  contact_ids  = [aws_ssmcontacts_contact.sam.arn]
  time_zone_id = "UTC"
  recurrence {
    number_of_on_calls    = 1
    recurrence_multiplier = 1
    monthly_settings {
      day_of_month = 1
      hand_off_time {
        hour_of_day    = 10
        minute_of_hour = 0
      }
    }
  }
  depends_on = [aws_ssmincidents_replication_set.main]
}

resource "aws_ssmincidents_response_plan" "checkout" {
  name         = "checkout"
  display_name = "Checkout outage"
  incident_template {
    title         = var.incident_title
    impact        = 2
    dedupe_string = "checkout"
    summary       = "Customers cannot pay"
    incident_tags = { service = "checkout" }
    notification_target {
      sns_topic_arn = "arn:aws:sns:us-east-1:123456789012:checkout-alerts"
    }
  }
  chat_channel = ["arn:aws:sns:us-east-1:123456789012:checkout-chat"]
  engagements  = [aws_ssmcontacts_contact.escalation.arn]
  action {
    ssm_automation {
      document_name    = "AWS-RestartEC2Instance"
      role_arn         = "arn:aws:iam::123456789012:role/incident-automation"
      document_version = "$DEFAULT"
      target_account   = "RESPONSE_PLAN_OWNER_ACCOUNT"
      parameter {
        name   = "InstanceId"
        values = ["i-0123456789abcdef0"]
      }
      dynamic_parameters = {
        incident = "INCIDENT_RECORD_ARN"
      }
    }
  }
  integration {
    pagerduty {
      name       = "checkout-pd"
      service_id = "PABC123"
      secret_id  = "pagerduty-checkout"
    }
  }
  tags       = { team = "payments" }
  depends_on = [aws_ssmincidents_replication_set.main, aws_ssmcontacts_plan.escalation]
}

resource "aws_ssmincidents_response_plan" "minimal" {
  name = "minimal"
  incident_template {
    title  = "Something is wrong"
    impact = 3
  }
  depends_on = [aws_ssmincidents_replication_set.main]
}

data "aws_ssmcontacts_contact" "akua" {
  arn = aws_ssmcontacts_contact.akua.arn
}

data "aws_ssmcontacts_contact_channel" "akua_email" {
  arn = aws_ssmcontacts_contact_channel.akua_email.arn
}

data "aws_ssmcontacts_plan" "escalation" {
  contact_id = aws_ssmcontacts_plan.escalation.contact_id
}

data "aws_ssmcontacts_rotation" "weekly" {
  arn = aws_ssmcontacts_rotation.weekly.arn
}

data "aws_ssmincidents_replication_set" "main" {
  depends_on = [aws_ssmincidents_replication_set.main]
}

data "aws_ssmincidents_response_plan" "checkout" {
  arn = aws_ssmincidents_response_plan.checkout.arn
}

output "ids" {
  value = {
    replication_set = aws_ssmincidents_replication_set.main.arn
    contacts = {
      akua       = aws_ssmcontacts_contact.akua.arn
      jdoe       = aws_ssmcontacts_contact.jdoe.arn
      sam        = aws_ssmcontacts_contact.sam.arn
      escalation = aws_ssmcontacts_contact.escalation.arn
    }
    channels = {
      akua_email = aws_ssmcontacts_contact_channel.akua_email.arn
      akua_sms   = aws_ssmcontacts_contact_channel.akua_sms.arn
    }
    rotations = {
      weekly  = aws_ssmcontacts_rotation.weekly.arn
      daily   = aws_ssmcontacts_rotation.daily.arn
      monthly = aws_ssmcontacts_rotation.monthly.arn
    }
    response_plans = {
      checkout = aws_ssmincidents_response_plan.checkout.arn
      minimal  = aws_ssmincidents_response_plan.minimal.arn
    }
  }
}

output "data" {
  value = {
    contact_alias     = data.aws_ssmcontacts_contact.akua.alias
    channel_address   = data.aws_ssmcontacts_contact_channel.akua_email.delivery_address[0].simple_address
    plan_stages       = length(data.aws_ssmcontacts_plan.escalation.stage)
    rotation_tz       = data.aws_ssmcontacts_rotation.weekly.time_zone_id
    replication_status = data.aws_ssmincidents_replication_set.main.status
    plan_title        = data.aws_ssmincidents_response_plan.checkout.incident_template[0].title
  }
}
