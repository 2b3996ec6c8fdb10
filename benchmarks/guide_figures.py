"""The teacher's guide's figures that no notebook prints, measured on the models notebook 4 saved.

    python benchmarks/guide_figures.py [--run-dir runs/lesson] [--data-dir data] [--source auto]

Run it after notebooks 4 and 5 (tools/refresh_notebooks.py 04 05). It prints:
* the main model's test accuracy with dropout left on, twice, beside the accuracy with it off
  (the guide's mistake "evaluating with dropout on");
* its accuracy on 10,000 of the images it trained on (the mistake "testing on the training data");
* for exercise 4.2's four models, the mean confidence of right and wrong test answers and the share
  of mistakes made with over 90% confidence (the answer to exercise 5.4).
"""

import argparse
from pathlib import Path

import torch

from cifar_helpers import CNN, AsyncDataLoader, DataSet, batch_to_tensors, classification_accuracy, load_cifar10


def batches(images, labels):
    data = DataSet([images, labels], batch_size=256, shuffle=False)
    return AsyncDataLoader(data, on_batch_loaded=lambda batch: batch_to_tensors(batch, "cpu"))


def accuracy_with_dropout_on(model, loader):
    """The mistake: the network left in training mode, so dropout still drops."""
    model.train()
    right = total = 0
    with torch.no_grad():
        for images, labels in loader:
            right += (model((images, labels)).argmax(dim=1) == labels).sum().item()
            total += len(labels)
    model.eval()
    return right / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/lesson"))
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--source", default="auto")
    parser.add_argument("--seed", type=int, default=0, help="notebook 4's seed (it decides the training split)")
    args = parser.parse_args()
    for name in ("model.pt", "exercise_dropout_0.0_seed0.pt"):
        if not (args.run_dir / name).is_file():
            parser.error(f"--run-dir {args.run_dir} holds no {name}: run notebooks 4 and 5 first "
                         "(python tools/refresh_notebooks.py 04 05).")
    torch.manual_seed(args.seed)
    test = load_cifar10("test", root=args.data_dir, source=args.source)
    test_loader = batches(test.images, test.labels)
    accuracy = {"accuracy": classification_accuracy}

    model = CNN().load(args.run_dir / "model.pt")
    print(f"test accuracy, dropout off: {model.evaluate_with_metrics(test_loader, accuracy)['accuracy']:.2%}")
    for attempt in (1, 2):
        print(f"test accuracy, dropout left on (try {attempt}): {accuracy_with_dropout_on(model, test_loader):.2%}")

    # notebook 4's split: the same DataSet and seed give the same 45,000 training images
    train = load_cifar10("train", root=args.data_dir, source=args.source, seed=args.seed)
    everything = DataSet([train.images, train.labels], batch_size=64, shuffle=True, drop_last=True)
    trained_on, _ = everything.split(0.9, seed=args.seed)
    images, labels = (array[:10000] for array in trained_on.data)
    train_loader = batches(images, labels)
    on_training = model.evaluate_with_metrics(train_loader, accuracy)["accuracy"]
    train_loader.close()
    print(f"accuracy on 10,000 of its training images: {on_training:.2%}")

    for p in (0.0, 0.5):
        for seed in (0, 1):
            path = args.run_dir / f"exercise_dropout_{p}_seed{seed}.pt"
            model = CNN()
            model.load_state_dict(torch.load(path, weights_only=True))
            model.eval()
            confidence, predicted = torch.softmax(model.predict_dataset(test_loader), dim=1).max(dim=1)
            right = predicted == torch.as_tensor(test.labels)
            wrong_confidence = confidence[~right]
            share_right = right.sum().item() / len(right)
            print(f"exercise 4.2, dropout {p}, seed {seed}: test accuracy {share_right:.1%}, mean confidence "
                  f"{confidence[right].mean():.1%} when right and {wrong_confidence.mean():.1%} when wrong, "
                  f"{(wrong_confidence > 0.9).float().mean():.1%} of mistakes above 90%")
    test_loader.close()


if __name__ == "__main__":
    main()
