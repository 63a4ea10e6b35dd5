// Placeholder: the pubsub sink is written in this folder.
