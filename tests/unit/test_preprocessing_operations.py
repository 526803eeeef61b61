"""Image operations of `pagesage.preprocessing` on real corpus pages."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pagesage import preprocessing
from pagesage.imaging import format_of_file, render_page
from pagesage.page_analysis import analyse


def test_a_grey_page_is_binarised_at_otsus_threshold(corpus):
    path = corpus / "eng-alice-hocrtools/alice_1.png"
    image = render_page(path, format_of_file(path), 1, dpi=300).image
    assert image.mode == "L"
    bilevel = preprocessing.binarised(image)
    assert bilevel.mode == "1" and bilevel.size == image.size
    ink = 1 - np.count_nonzero(np.asarray(bilevel)) / (image.width * image.height)
    # the analysis measures the share of pixels darker than the same global Otsu threshold
    assert abs(ink - analyse(image, dpi=300).ink_fraction) < 0.002
    assert 0.01 < ink < 0.5


def test_colour_is_binarised_through_its_grey_levels():
    image = Image.new("RGB", (40, 20), (250, 245, 240))
    image.paste((20, 30, 120), (0, 0, 10, 20))  # dark blue ink on cream paper
    bilevel = np.asarray(preprocessing.binarised(image))
    assert not bilevel[:, :10].any() and bilevel[:, 10:].all()


def test_a_bilevel_page_is_returned_as_it_is():
    image = Image.new("1", (8, 8), 1)
    assert preprocessing.binarised(image) is image
