"""samrt.sam2: a drop-in for the official `sam2` package's image path.

    from samrt.sam2.build_sam import build_sam2
    from samrt.sam2.sam2_image_predictor import SAM2ImagePredictor
    from samrt.sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

are the only lines a script written for `sam2` changes (`sam2.` becomes `samrt.sam2.`)."""
