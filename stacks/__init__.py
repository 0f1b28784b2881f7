"""Infrastructure: reusable constructs for SageMaker async inference result delivery, and the sample stack."""
