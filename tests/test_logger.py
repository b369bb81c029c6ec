"""music.logger: progress.csv keeps its columns, also when a run started by older code resumes."""

import csv

import pytest

from music.logger import Logger


def test_a_resumed_file_keeps_its_columns_and_new_keys_are_left_out_once(tmp_path):
    (tmp_path / "progress.csv").write_text("epoch,loss\n0,1.5\n")
    logger = Logger(tmp_path, tensorboard=False)
    for epoch in (1, 2):
        logger.record_tabular("epoch", epoch)
        logger.record_tabular("loss", 1.0 / epoch)
        logger.record_tabular("train/episodes_all_workers", 8 * epoch)  # a column the old file lacks
        logger.dump_tabular()
    rows = list(csv.reader(open(tmp_path / "progress.csv")))
    assert rows == [["epoch", "loss"], ["0", "1.5"], ["1", "1.0"], ["2", "0.5"]]
    log = (tmp_path / "log.txt").read_text()
    assert log.count("progress.csv was started without columns ['train/episodes_all_workers']") == 1
    assert "train/episodes_all_workers" in log  # the values stay in log.txt


def test_a_new_key_after_the_first_epoch_of_a_fresh_run_is_an_error(tmp_path):
    logger = Logger(tmp_path, tensorboard=False)
    logger.record_tabular("epoch", 0)
    logger.dump_tabular()
    logger.record_tabular("epoch", 1)
    logger.record_tabular("late", 1)
    with pytest.raises(KeyError, match=r"new keys \['late'\] appeared after the first epoch"):
        logger.dump_tabular()
