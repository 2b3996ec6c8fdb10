"""The seed tutorial (../shared/seed/, Cogitare's CIFAR-10 tutorial, 2018) runs on cifar_helpers and learns.

Its data, model, plugin, training and evaluation blocks are below as it wrote them, with only the
2018-isms changed (each marked "was: ..."); docs/cogitare.md lists them. The
data is stored class by class, as class-folder images load: with Cogitare's DataSet, which
shuffles by default, the seed learned from it, and so must this port.
"""

from types import SimpleNamespace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from cifar_helpers import AsyncDataLoader, DataSet, EarlyStopping, Model, accuracy, load_cifar10


def class_sorted(split):
    """A stand-in for torchvision's CIFAR10 object (.data, .targets), sorted by class."""
    loaded = load_cifar10(split, source="synthetic", verbose=False)
    order = np.argsort(loaded.labels, kind="stable")
    return SimpleNamespace(data=loaded.images[order], targets=loaded.labels[order].tolist())


def run_the_seed(tmp_path, dataset_defaults=None):
    """The seed's code; ``dataset_defaults`` replaces DataSet by one with other defaults (for the contrast)."""
    DataSetOfThisRun = DataSet if dataset_defaults is None else (
        lambda data, **kwargs: DataSet(data, **{**dataset_defaults, **kwargs}))
    args = SimpleNamespace(batch_size=64, cuda=False, dropout=0.3, learning_rate=0.001, max_epochs=3)
    torch.manual_seed(0)
    np.random.seed(0)
    trainset, testset = class_sorted("train"), class_sorted("test")

    # --- 2. Loading and normalizing CIFAR10 ---
    def batch2variable(batch):
        data, label = batch
        data = torch.as_tensor(data)  # was: utils.to_tensor(data)

        # B x W x H x C to B x C x W x W
        data = data.transpose(1, 2).transpose(1, 3)

        return data.float(), label  # was: utils.to_variable(data, dtype=torch.FloatTensor), utils.to_variable(label)

    # was: trainset.train_data, trainset.train_labels (torchvision renamed them .data and .targets)
    data_train = DataSetOfThisRun([trainset.data, torch.LongTensor(trainset.targets)],
                                  batch_size=args.batch_size,
                                  drop_last=True)
    data_train = AsyncDataLoader(data_train, buffer_size=args.batch_size * 8,
                                 on_batch_loaded=batch2variable)
    data_test = DataSetOfThisRun([testset.data, torch.LongTensor(testset.targets)],
                                 batch_size=args.batch_size,
                                 drop_last=True)
    data_test = AsyncDataLoader(data_test, buffer_size=args.batch_size * 8,
                                on_batch_loaded=batch2variable)
    data_train.cache()
    data_test.cache()
    first_images, first_labels = next(data_train)
    assert first_images.shape == (64, 3, 32, 32) and first_labels.dtype == torch.int64

    # --- 3. Define a Convolution Neural Network ---
    class CNN(Model):

        def __init__(self):
            super().__init__()  # was: super(CNN, self).__init__()

            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, batch):
            x, _ = batch

            # was: F.dropout(x, args.dropout), which in PyTorch 0.4 meant training=False (no dropout at all)
            x = F.dropout(x, args.dropout, self.training)
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)  # was: x.view(-1, 16 * 5 * 5), which fails on channels-last tensors
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)

            return F.log_softmax(x, dim=1)

        def loss(self, output, batch):
            _, expected = batch

            return F.nll_loss(output, expected)

    # --- 4. Training the Model ---
    cnn = CNN()
    optimizer = optim.Adam(cnn.parameters(), lr=args.learning_rate)
    cnn.register_default_plugins()
    early = EarlyStopping(max_tries=5, path=str(tmp_path / "model.pt"))  # was: path='/tmp/model.pt'
    cnn.register_plugin(early, 'on_end_epoch')
    if args.cuda:
        cnn = cnn.cuda()
    cnn.learn(data_train, optimizer, data_test, max_epochs=args.max_epochs)

    # --- 5. Model Evaluation ---
    def model_accuracy(output, data):
        _, indices = torch.max(output, 1)

        return accuracy(indices, data[1])

    metrics = cnn.evaluate_with_metrics(data_test, {'loss': cnn.metric_loss, 'accuracy': model_accuracy})
    # was: a loop averaging per-batch lists; evaluate_with_metrics now returns the means itself
    images, labels = next(data_test)
    predicted = cnn.predict((images, None))
    _, predicted_labels = torch.max(predicted, dim=1)
    assert predicted_labels.shape == (64,)
    data_train.close()
    data_test.close()
    return metrics


def test_the_seed_learns_from_class_sorted_data(tmp_path):
    metrics = run_the_seed(tmp_path)
    assert metrics["accuracy"] > 0.9, metrics  # chance is 0.1
    assert (tmp_path / "model.pt").is_file()


def test_without_shuffling_the_same_code_learns_nothing(tmp_path):
    """What the seed's code did on this library before DataSet shuffled by default (and why it must)."""
    metrics = run_the_seed(tmp_path, dataset_defaults={"shuffle": False})
    assert metrics["accuracy"] < 0.6, metrics  # each epoch ends on trucks only: it forgets the rest
