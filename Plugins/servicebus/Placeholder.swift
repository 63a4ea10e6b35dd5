// Placeholder: the servicebus sink is written in this folder.
