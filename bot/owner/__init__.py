"""What the owner controls and is told: who may buy, figures, alerts, the SMS-man float."""
