// Placeholder: the sqs sink is written in this folder.
