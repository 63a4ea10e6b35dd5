// Placeholder: the kafka sink is written in this folder.
