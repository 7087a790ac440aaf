"""The first finding of the mnist and cifar headlines answers the question from recorded runs."""
from acdc_core.lab.analysis import cifar as cifar_analysis
from acdc_core.lab.analysis import mnist as mnist_analysis

PROVENANCE = {"data": {"name": "CIFAR-10", "verified": True}}


def _cifar(recipe, accuracy, parameters):
    return {"recipe": recipe, "seed": 0, "test_accuracy": accuracy, "parameters": parameters,
            "mult_adds": 1e6, "epochs": 15}


def test_the_cifar_answer_gives_the_loss_and_what_attention_transfer_wins_back():
    runs = [_cifar("wrn16_2", 0.80, 40_000), _cifar("wrn16_2_scratch", 0.70, 2_000),
            _cifar("wrn16_2_distilled", 0.75, 2_000)]
    answer = cifar_analysis.answer_finding({"runs": runs, "provenance": PROVENANCE})
    assert answer == ("On CIFAR-10, 15 epochs, seed 0: wrn16_2_scratch, with ACDC layers in place of wrn16_2's "
                      "convolutions and 20.0× fewer parameters, loses 10.00 points (70.00% against 80.00%), and "
                      "attention transfer from the dense teacher wins back 5.00 of them (wrn16_2_distilled: 75.00%).")
    assert cifar_analysis.answer_finding(None).startswith("no CIFAR-10 run is recorded")


def _mnist(recipe, accuracy):
    return {"recipe": recipe, "seed": 0, "test_accuracy": accuracy, "parameters": 75_264, "epochs": 10,
            "provenance": {"data": {"name": "MNIST", "verified": True}}}


def test_the_mnist_answer_sets_each_recorded_network_against_the_log_and_the_goal():
    recorded = {"runs": [_mnist("e11", 0.9741), _mnist("e11_improved", 0.98), _mnist("convnet", 0.99)],
                "provenance": {"data": {"name": "MNIST", "verified": True}}}
    answer, baselines = mnist_analysis.answer_findings(recorded)
    assert answer == ("On MNIST, 10 epochs (the recorded full profile): e11 97.41 ± 0.00% against the log's 97.41% "
                      "(reproduced); 32 ACDC layers with no dense layer, trained better (e11_improved), reach "
                      "98.00 ± 0.00%: misses the goal of 98.5%.")
    assert baselines == "baselines the log did not run, same data and epochs: convnet (75,264 parameters) 99.00 ± 0.00%."
